# Prefect example: unmapped keeps an iterable argument static across a .map (docs/v3/how-to-guides/workflows/run-work-concurrently.mdx; unmapped imported from its documented module prefect.utilities.annotations)
from flowless import flow, task
from flowless.utilities.annotations import unmapped


@task
def sum_plus(x, static_iterable):
    return x + sum(static_iterable)


@flow
def sum_it(numbers, static_iterable):
    futures = sum_plus.map(numbers, unmapped(static_iterable))
    return futures.result()


if __name__ == "__main__":
    resulting_sum = sum_it([4, 5, 6], [1, 2, 3])
    assert resulting_sum == [10, 11, 12]
    print(resulting_sum)
