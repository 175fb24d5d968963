"""The music plugin's aerich migrations, in `music/` (aerich's layout is `<location>/<app>/`).

Shipped inside the plugin's package and found with importlib.resources; generate new ones with
`growmies makemigrations music`.
"""
