# Prefect example: tasks and flows returning Completed/Failed states with custom messages
from flowless import flow, task
from flowless.states import Completed, Failed


@task
def validate_file(name: str):
    if name.endswith(".csv"):
        return Completed(message=f"{name} is valid")
    return Failed(message=f"{name} has an unsupported type")


@flow
def validate_files(names: list[str]):
    states = [validate_file(name, return_state=True) for name in names]
    for name, state in zip(names, states):
        print(f"{name}: {state.name} - {state.message}")
    failures = [s for s in states if s.is_failed()]
    if failures:
        return Failed(message=f"{len(failures)} file(s) rejected")
    return Completed(message="all files accepted")


if __name__ == "__main__":
    good = validate_files(["a.csv", "b.csv"], return_state=True)
    print(f"good: {good.name} - {good.message}")
    bad = validate_files(["a.csv", "b.json"], return_state=True)
    print(f"bad: {bad.name} - {bad.message} - is_failed={bad.is_failed()}")
