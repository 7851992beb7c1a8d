# Prefect example: flows defined on an instance method, a classmethod and a staticmethod (@flow above @classmethod) (docs/v3/how-to-guides/workflows/write-and-run.mdx)
from flowless import flow


class MyClass:

    @flow
    def my_instance_method(self):
        return "Hello, from an instance method!"


    @flow
    @classmethod
    def my_class_method(cls):
        return "Hello, from a class method!"


    @flow
    @staticmethod
    def my_static_method():
        return "Hello, from a static method!"


if __name__ == "__main__":
    print(MyClass().my_instance_method())
    print(MyClass.my_class_method())
    print(MyClass.my_static_method())
