# Prefect example: a flow returning Completed(name="Skipped") - str, name and message of the final states, repr/str of their StateType (docs/v3/concepts/flows.mdx "Custom named states")
from flowless import flow
from flowless.states import Completed


@flow
def my_flow(work_to_do: bool):
    if not work_to_do:
        return Completed(message="No work to do 💤", name="Skipped")
    else:
        return Completed(message="Work was done 💪")


if __name__ == "__main__":
    for work_to_do in (False, True):
        state = my_flow(work_to_do=work_to_do, return_state=True)
        print(str(state))
        print(state.name, state.message)
        print(repr(state.type), str(state.type), state.type.value)
        print(state.is_completed(), state.result())
