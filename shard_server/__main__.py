"""`python -m shard_server serve ...` / `... cluster up ...`: works without the `ngram`
console script being installed (cluster up and the test harness spawn servers this way).
Errors map to messages and exit codes as under `ngram` (ngram.cli.ErrorMappingGroup)."""
import click

from ngram.cli import ErrorMappingGroup
from shard_server.cli import cluster, serve


class ShardServerGroup(ErrorMappingGroup):
    prog = "shard_server"


@click.group(cls=ShardServerGroup)
def main():
    pass


main.add_command(serve)
main.add_command(cluster)

if __name__ == "__main__":
    main()
