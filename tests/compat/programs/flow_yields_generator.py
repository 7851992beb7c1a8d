# Prefect example: a flow that yields a generator hands it back unconsumed (docs/v3/concepts/flows.mdx)
from flowless import flow


def gen():
    yield from [1, 2, 3]
    print('Generator consumed!')


@flow
def f():
    yield gen()


if __name__ == "__main__":
    generator = next(f())
    print(list(generator)) # prints 'Generator consumed!'
