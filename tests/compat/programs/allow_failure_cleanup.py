# Prefect example: wait_for=[allow_failure(future)] runs a cleanup task even though its upstream failed (RELEASE-NOTES.md 2.7.0 "Waiting for tasks even if they fail"; allow_failure imported from its documented module prefect.utilities.annotations)
from flowless import task, flow
from flowless.utilities.annotations import allow_failure


@flow
def foo():
    upstream_future = fails_sometimes.submit()
    important_cleanup(wait_for=[allow_failure(upstream_future)])


@task
def fails_sometimes():
    raise RuntimeError("oh no!")


@task
def important_cleanup():
    ...


if __name__ == "__main__":
    print(foo(return_state=True))
