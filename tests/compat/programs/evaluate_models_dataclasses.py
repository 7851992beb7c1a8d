# Prefect example: dataclass flow parameters mapped over a task whose run name reads their attributes (docs/v3/how-to-guides/workflows/run-work-concurrently.mdx "Real-world applications"; the score comes from a random.Random seeded with the dataset and model names instead of the global random, so the best model is the same every run)
import random
from dataclasses import dataclass

from flowless import flow, task
from flowless.futures import PrefectFuture, wait

@dataclass
class Dataset:
    name: str

@dataclass
class ModelConfig:
    name: str

@task(task_run_name="train on {dataset.name} with {model_config.name}")
def train_model(dataset: Dataset, model_config: ModelConfig) -> dict:
    return {
        "dataset": dataset.name,
        "model": model_config.name,
        "score": random.Random(f"{dataset.name}-{model_config.name}").random(),
    }

@flow
def evaluate_models(datasets: list[Dataset], model_configs: list[ModelConfig]):
    all_futures: list[PrefectFuture[dict[str, object]]] = []
    for dataset in datasets:
        futures = train_model.map(
            dataset=dataset,
            model_config=model_configs,
        )
        all_futures.extend(futures)

    results = [future.result() for future in wait(all_futures).done]

    print(f"\nBest model: {max(results, key=lambda r: r['score'])}")

if __name__ == "__main__":
    evaluate_models(
        datasets=[
            Dataset("customers"), Dataset("products"), Dataset("orders")
        ],
        model_configs=[
            ModelConfig("random_forest"), ModelConfig("gradient_boosting")
        ],
    )
