# Prefect example: prefect.runtime gives the flow run name, the (absent) deployment name, the task run name and the flow parameters (docs/v3/concepts/runtime-context.mdx)
from flowless import flow, task
from flowless import runtime


@flow(log_prints=True)
def my_flow(x):
    print("My name is", runtime.flow_run.name)
    print("I belong to deployment", runtime.deployment.name)
    my_task(2)


@task
def my_task(y):
    print("My name is", runtime.task_run.name)
    print("Flow run parameters:", runtime.flow_run.parameters)


if __name__ == "__main__":
    my_flow(1)
