# Prefect example: with_options, flow_run_name, task_run_name, log_prints and get_run_logger
from flowless import flow, get_run_logger, task

attempts = {"count": 0}


@task(task_run_name="t-{x}")
def process(x: int) -> int:
    logger = get_run_logger()
    logger.info("processing %s", x)
    return x + 1


@task
def sometimes_fails() -> str:
    attempts["count"] += 1
    if attempts["count"] == 1:
        raise RuntimeError("first try fails")
    return "recovered"


@flow(flow_run_name="run-{x}", log_prints=True)
def named_flow(x: int) -> list:
    logger = get_run_logger()
    logger.info("starting with x=%s", x)
    logger.warning("this is a warning")
    print(f"print goes to the log: {x}")
    results = [process(x), process(x + 1)]
    retrying = sometimes_fails.with_options(name="patient", retries=1)
    results.append(retrying())
    return results


if __name__ == "__main__":
    print(named_flow(7))
    renamed = named_flow.with_options(name="renamed-flow", flow_run_name="custom-{x}")
    print(renamed.name)
    print(renamed(1))
    print(f"attempts: {attempts['count']}")
