# Prefect example: on_running hooks on flows, given in the decorator and with @another_flow.on_running (adapted from the task on_running example in docs/v3/how-to-guides/workflows/state-change-hooks.mdx, which needs Prefect 3.5; 3.4.25 has on_running for flows; the start time is not printed)
from flowless import flow


def record_start_time(flow, flow_run, state):
    print(f"Flow {flow.name} entered {state.name}")

@flow(on_running=[record_start_time])
def my_flow():
    return "hello"

# Or use the decorator pattern
@flow
def another_flow():
    return "world"

@another_flow.on_running
def log_start(flow, flow_run, state):
    print(f"Starting {flow.name}!")


if __name__ == "__main__":
    print(my_flow())
    print(another_flow())
