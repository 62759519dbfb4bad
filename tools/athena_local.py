"""Run the backtest's Athena query on a real SQL engine, locally: DuckDB over CloudTrail log files.

The test of `backtest --athena` (xtask-aws/tests/athena.rs) runs the very query the backtest sends
to Athena, transpiled from Athena's dialect (Trino) to DuckDB's with sqlglot, over the same trail
files the file backtest reads, and writes the rows as Athena writes a result file, so that the
Athena path can be compared with the file path.

The table is AWS's CloudTrail table for Athena, as a view: one row per element of a log file's
`Records` (what `com.amazon.emr.cloudtrail.CloudTrailInputFormat` gives), the columns lowercased
as the Hive JSON SerDe reads them (a JSON object in a STRING column is its JSON text; JSON null
is NULL), and the partition keys read from each file's path in the layout partition projection
reads (`AWSLogs/[<org-id>/]<account>/CloudTrail/<region>/<yyyy>/<MM>/<dd>/<file>`).

The result file: a header row, every value between double quotes (a quote inside doubled), NULL
as an empty unquoted field, lines ended by a newline ("Working with query results, recent
queries, and output files", Amazon Athena User Guide).

Usage: athena_local.py --trail DIR --database DB --table TABLE --query FILE --out FILE
Prints the DuckDB query it ran on stderr.
"""

import argparse
import pathlib
import sys

import duckdb
import sqlglot


def log_files(root: pathlib.Path) -> list[str]:
    files = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or "CloudTrail-Digest" in path.parts:
            continue
        if path.name.endswith((".json", ".json.gz")):
            files.append(str(path))
    return files


def text(path: str) -> str:
    """A string field of the record (`$.a.b`), NULL when absent or JSON null."""
    return f"(r ->> '{path}')"


def json_text(path: str) -> str:
    """A JSON field as the Hive JSON SerDe gives it to a STRING column: its JSON text."""
    return (
        f"CASE WHEN json_type(r -> '{path}') IS NULL OR json_type(r -> '{path}') = 'NULL' "
        f"THEN NULL ELSE CAST(r -> '{path}' AS VARCHAR) END"
    )


def table_view(database: str, table: str, files: list[str]) -> str:
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    identity = (
        "{"
        f"'type': {text('$.userIdentity.type')}, "
        f"'principalid': {text('$.userIdentity.principalId')}, "
        f"'arn': {text('$.userIdentity.arn')}, "
        f"'accountid': {text('$.userIdentity.accountId')}, "
        f"'invokedby': {text('$.userIdentity.invokedBy')}, "
        f"'accesskeyid': {text('$.userIdentity.accessKeyId')}, "
        f"'username': {text('$.userIdentity.userName')}, "
        "'onbehalfof': {"
        f"'userid': {text('$.userIdentity.onBehalfOf.userId')}, "
        f"'identitystorearn': {text('$.userIdentity.onBehalfOf.identityStoreArn')}"
        "}, "
        "'sessioncontext': {"
        "'sessionissuer': {"
        f"'type': {text('$.userIdentity.sessionContext.sessionIssuer.type')}, "
        f"'principalid': {text('$.userIdentity.sessionContext.sessionIssuer.principalId')}, "
        f"'arn': {text('$.userIdentity.sessionContext.sessionIssuer.arn')}, "
        f"'accountid': {text('$.userIdentity.sessionContext.sessionIssuer.accountId')}, "
        f"'username': {text('$.userIdentity.sessionContext.sessionIssuer.userName')}"
        "}, "
        f"'sourceidentity': {text('$.userIdentity.sessionContext.sourceIdentity')}"
        "}"
        "}"
    )
    strings = [
        ("eventversion", "$.eventVersion"),
        ("eventtime", "$.eventTime"),
        ("eventsource", "$.eventSource"),
        ("eventname", "$.eventName"),
        ("awsregion", "$.awsRegion"),
        ("sourceipaddress", "$.sourceIPAddress"),
        ("useragent", "$.userAgent"),
        ("errorcode", "$.errorCode"),
        ("errormessage", "$.errorMessage"),
        ("requestid", "$.requestID"),
        ("eventid", "$.eventID"),
        ("eventtype", "$.eventType"),
        ("recipientaccountid", "$.recipientAccountId"),
        ("eventcategory", "$.eventCategory"),
    ]
    objects = [
        ("requestparameters", "$.requestParameters"),
        ("responseelements", "$.responseElements"),
        ("additionaleventdata", "$.additionalEventData"),
    ]
    columns = [f"{text(p)} AS {name}" for name, p in strings]
    columns += [f"{json_text(p)} AS {name}" for name, p in objects]
    columns.append(f"{identity} AS useridentity")
    layout = r"/AWSLogs/(?:o-[a-z0-9]+/)?([0-9]{12})/CloudTrail/([a-z0-9-]+)/([0-9]{4}/[0-9]{2}/[0-9]{2})/"
    columns += [
        f"regexp_extract(filename, '{layout}', 1) AS account",
        f"regexp_extract(filename, '{layout}', 2) AS region",
        f"regexp_extract(filename, '{layout}', 3) AS \"timestamp\"",
    ]
    return (
        f"CREATE VIEW {database}.{table} AS\n"
        "WITH files AS (\n"
        "  SELECT filename, unnest(Records) AS r\n"
        f"  FROM read_json([{listed}], columns = {{'Records': 'JSON[]'}}, filename = true,"
        " format = 'auto', maximum_object_size = 268435456)\n"
        ")\n"
        f"SELECT {', '.join(columns)}\nFROM files"
    )


def athena_csv(value) -> str:
    if value is None:
        return ""
    return '"' + str(value).replace('"', '""') + '"'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trail", required=True, type=pathlib.Path)
    parser.add_argument("--database", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--query", required=True, type=pathlib.Path)
    parser.add_argument("--out", required=True, type=pathlib.Path)
    args = parser.parse_args()

    files = log_files(args.trail)
    if not files:
        print(f"{args.trail} holds no log file", file=sys.stderr)
        return 2
    con = duckdb.connect()
    con.execute(f"CREATE SCHEMA {args.database}")
    con.execute(table_view(args.database, args.table, files))
    athena_sql = args.query.read_text()
    [duck_sql] = sqlglot.transpile(athena_sql, read="trino", write="duckdb")
    print(duck_sql, file=sys.stderr)
    cursor = con.execute(duck_sql)
    names = [d[0] for d in cursor.description]
    with args.out.open("w", encoding="utf-8", newline="") as out:
        out.write(",".join(athena_csv(n) for n in names) + "\n")
        while True:
            rows = cursor.fetchmany(10_000)
            if not rows:
                break
            for row in rows:
                out.write(",".join(athena_csv(v) for v in row) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
