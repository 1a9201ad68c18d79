from draftgate.cli import entry

# The guard keeps a worker process (the audit's, started with spawn) from running the CLI.
if __name__ == "__main__":
    entry()
