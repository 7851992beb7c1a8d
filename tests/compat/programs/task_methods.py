# Prefect example: tasks defined on an instance method, a classmethod and a staticmethod (docs/v3/develop/write-tasks.mdx, Prefect 3.3)
from flowless import task


class MyClass:

    @task
    def my_instance_method(self):
        pass


    @classmethod
    @task
    def my_class_method(cls):
        pass


    @staticmethod
    @task
    def my_static_method():
        pass


if __name__ == "__main__":
    print(MyClass().my_instance_method())
    print(MyClass.my_class_method())
    print(MyClass.my_static_method())
