"""The ui plugin's aerich migrations, in `ui/` (aerich's layout is `<location>/<app>/`).

Shipped inside the plugin's package and found with importlib.resources; generate new ones with
`growmies makemigrations ui`.
"""
