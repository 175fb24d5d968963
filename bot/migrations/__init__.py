"""The core app's aerich migrations, in `core/` (aerich's layout is `<location>/<app>/`).

They ship inside the `bot` package and are found with importlib.resources, so an installed
wheel migrates from any working directory. Generate new ones with `growmies makemigrations core`.
"""
