# Prefect example: a generator returned from a flow is consumed (docs/v3/concepts/flows.mdx; __main__ does not print the return value: Prefect 3.4.25 returns None on Python 3.11 where its docs say a list, the value this project returns)
from flowless import flow


def gen():
    yield from [1, 2, 3]
    print('Generator consumed!')


@flow
def f():
    return gen()


if __name__ == "__main__":
    f()  # prints 'Generator consumed!'
