"""The task layer: what each task of the sync DAGs does, one module per stage, wired by `dag_wiring`.

    prepare ─► extract ─► complete ─► validate ─► plan ─► validate ─► load ─► link ─► report

`prepare` fixes the run's descriptor (`spec.RunSpec`); every other task takes it and its upstream tasks' typed
outputs (`spec`), reads its frames from Parquet staging, and returns a small typed output (URLs and counts)
for XCom. `resources.RunResources` opens what a task needs (settings, state store, staging, connectors);
`writes` is the chunked, ledgered sender the loads and the link task share. Heavy modules are imported here,
never by `dag_wiring` at parse time.
"""
