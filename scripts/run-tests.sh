#!/usr/bin/env bash
# Runs the whole suite, fast and slow tests alike. When the local PostgreSQL answers,
# the store tests run against it too (SHOPVEIL_TEST_PG_URL). pytest's exit code 5
# ("no tests collected") is a failure here, never a silent pass.
set -uo pipefail
cd "$(dirname "$0")/.."

PG_URL_DEFAULT="postgresql+psycopg://postgres@127.0.0.1:5432/test"
if [ -z "${SHOPVEIL_TEST_PG_URL:-}" ]; then
    if .venv/bin/python - "$PG_URL_DEFAULT" <<'PY' 2>/dev/null
import sys
import sqlalchemy as sa
sa.create_engine(sys.argv[1]).connect().close()
PY
    then
        export SHOPVEIL_TEST_PG_URL="$PG_URL_DEFAULT"
        echo "PostgreSQL answers: store tests run on SQLite and PostgreSQL"
    else
        echo "PostgreSQL does not answer: store tests run on SQLite only"
    fi
fi

# A worker that dies fails the run (a restarted worker once left xdist waiting forever).
.venv/bin/python -m pytest -n 2 --dist loadfile --max-worker-restart 0 --durations=15 "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
