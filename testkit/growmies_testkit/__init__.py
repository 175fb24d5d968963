"""growmies-testkit: the Growmies test kit, its own distribution so the runtime package ships
no test code.

- `growmies_testkit.pytest_plugin`: the fixtures (loaded by pytest through the `pytest11` entry
  point; listed in the Growmies README, "Testing your plugin").
- `growmies_testkit.fake_discord`, `.fake_lavalink`, `.fake_openai`: the fakes, over real
  sockets, following each service's documented protocol.
- `growmies_testkit.databases`: throwaway SQLite/PostgreSQL databases.
- `growmies_testkit.world`: a ready-made guild with the members most scenarios need.
"""
