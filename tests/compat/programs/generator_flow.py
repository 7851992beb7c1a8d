# Prefect example: a generator function as a flow, iterated by the caller (docs/v3/how-to-guides/workflows/write-and-run.mdx)
from flowless import flow


@flow
def generator():
    for i in range(10):
        yield i


if __name__ == "__main__":
    for val in generator():
        print(val)
