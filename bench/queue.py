"""`python bench/queue.py`: the music queue benchmark (the code is in bench/music_queue.py).

A script's folder comes first on sys.path, so every `python bench/<x>.py` would import this
file for the standard library's `queue` (asyncio, aiosqlite and the openai SDK import it).
Imported under that name, this module therefore replaces itself with the real `queue`; run as
a script, it runs the benchmark.
"""

import sys

if __name__ == "__main__":
    import runpy
    from pathlib import Path

    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.modules.pop("queue", None)
    runpy.run_path(str(here / "music_queue.py"), run_name="__main__")
else:
    import importlib.util
    import sysconfig
    from pathlib import Path

    _spec = importlib.util.spec_from_file_location(
        "queue", Path(sysconfig.get_paths()["stdlib"]) / "queue.py"
    )
    assert _spec is not None and _spec.loader is not None
    _stdlib_queue = importlib.util.module_from_spec(_spec)
    # The import system hands out whatever sys.modules holds once this module has run.
    sys.modules[__name__] = _stdlib_queue
    _spec.loader.exec_module(_stdlib_queue)
