"""The simplified ATLAS detector: shapes in `atlas.yaml`, meshes (`build`) and files (`export`)."""
