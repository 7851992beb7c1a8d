# Prefect example: attributes of prefect.runtime are None (or empty) outside a run (docs/v3/how-to-guides/workflows/access-runtime-info.mdx)
from flowless.runtime import flow_run

assert flow_run.name is None

if __name__ == "__main__":
    print(flow_run.name)
    print(flow_run.parameters)
    print(flow_run.tags)
    print(flow_run.run_count)
