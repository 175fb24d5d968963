"""growmies-notes: an example out-of-tree Growmies plugin (private notes per member)."""

from growmies_notes.plugin import NotesPlugin

# Importing this module wires nothing: the core builds and loads the plugin from this object.
plugin = NotesPlugin()

__all__ = ["NotesPlugin", "plugin"]
