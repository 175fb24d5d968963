"""The compliance plugin's aerich migrations, in `compliance/` (aerich's layout is `<location>/<app>/`).

Shipped inside the plugin's package and found with importlib.resources; generate new ones with
`growmies makemigrations compliance`.
"""
