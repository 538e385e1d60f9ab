"""`python -m shard_server serve ...` / `... cluster up ...`: works without the `ngram`
console script being installed (cluster up and the test harness spawn servers this way)."""
import click

from shard_server.cli import cluster, serve


@click.group()
def main():
    pass


main.add_command(serve)
main.add_command(cluster)

if __name__ == "__main__":
    main()
