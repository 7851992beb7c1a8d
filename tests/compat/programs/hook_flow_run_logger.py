# Prefect example: logging from an on_failure flow hook with flow_run_logger (docs/v3/how-to-guides/workflows/state-change-hooks.mdx)
from flowless import flow
from flowless.logging.loggers import flow_run_logger


def my_hook(flow, flow_run, state):
    logger = flow_run_logger(flow_run, flow)
    logger.info(f"Flow {flow_run.name} entered state {state.name}")


@flow(on_failure=[my_hook])
def failing_flow():
    raise ValueError("oops!")


if __name__ == "__main__":
    state = failing_flow(return_state=True)
    print(state)
