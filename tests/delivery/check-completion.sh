#!/bin/bash
# Run the bash completion function on sample command lines and compare the
# candidates it offers with the expected ones.
set -u
completion=$1
bash_completion=${BASH_COMPLETION_SCRIPT:-/usr/share/bash-completion/bash_completion}

if [ ! -r "$bash_completion" ]; then
    echo "SKIP: bash-completion is not installed ($bash_completion)"
    exit 77
fi

# shellcheck source=/dev/null
source "$bash_completion"
# shellcheck source=/dev/null
source "$completion"

failures=0

# expect "CANDIDATES" WORD...: completes the last WORD of the command line.
expect() {
    local expected=$1
    shift
    COMP_WORDS=("$@")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE="$*"
    COMP_POINT=${#COMP_LINE}
    COMPREPLY=()
    _swarm_proxy
    local actual="${COMPREPLY[*]}"
    if [ "$actual" != "$expected" ]; then
        echo "FAIL: [$*] offered \"$actual\", expected \"$expected\""
        failures=$((failures + 1))
    else
        echo "ok: [$*] -> $actual"
    fi
}

expect "broker provider ticket share" swarm-proxy ""
expect "broker provider ticket share" swarm-proxy --json ""
expect "--json --no-gui --background --allow-private --version --help" swarm-proxy -
expect "--allow-private" swarm-proxy --no-gui --al
expect "--listen --open-timeout --json --help" swarm-proxy broker -
expect "--allow-private" swarm-proxy --json provider --broker 127.0.0.1:8787 --al
expect "--ttl" swarm-proxy ticket --session-id demo --tt
expect "--broker --listen --allow-private --json --help" swarm-proxy share -
expect "" swarm-proxy broker --listen ""
expect "" swarm-proxy ticket --ttl ""

[ "$failures" -eq 0 ]
