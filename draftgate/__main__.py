from draftgate.cli import entry

entry()
