# Prefect example: task hooks typed with Task/TaskRun/State, given as on_completion=[...] and with the @task.on_completion decorator (docs/v3/develop/manage-states.mdx, Prefect 3.3)
from flowless import task, flow

# for type hints only
from flowless import Task
from flowless.client.schemas.objects import TaskRun
from flowless.states import State


def first_task_hook(tsk: Task, run: TaskRun, state: State) -> None:
    if not state.name == 'Cached':
        print('I run anytime this task executes successfully')
    else:
        print('and can condition my behavior on details of this run')


@task(log_prints=True, on_completion=[first_task_hook])
def nice_task(name: str):
    print(f"Hello {name}!")


# alternatively hooks can be specified via decorator
@nice_task.on_completion
def second_hook(tsk: Task, run: TaskRun, state: State) -> None:
    print('another hook')

if __name__ == "__main__":
    nice_task(name='Marvin')
