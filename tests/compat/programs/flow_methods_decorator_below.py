# Prefect example: flows on methods with @classmethod/@staticmethod applied above @flow (docs/v3/develop/write-flows.mdx, Prefect 3.3)
from flowless import flow


class MyClass:

    @flow
    def my_instance_method(self):
        pass


    @classmethod
    @flow
    def my_class_method(cls):
        pass


    @staticmethod
    @flow
    def my_static_method():
        pass


if __name__ == "__main__":
    print(MyClass().my_instance_method())
    print(MyClass.my_class_method())
    print(MyClass.my_static_method())
