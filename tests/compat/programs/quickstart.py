# Prefect example: quickstart - a flow that calls tasks and returns their results
from flowless import flow, task


@task
def create_message() -> str:
    return "Hello from a task!"


@task
def count_letters(message: str) -> int:
    return sum(1 for ch in message if ch.isalpha())


@flow
def my_flow() -> dict:
    message = create_message()
    letters = count_letters(message)
    print(f"message: {message}")
    print(f"letters: {letters}")
    return {"message": message, "letters": letters}


if __name__ == "__main__":
    result = my_flow()
    print(f"flow returned: {result}")
