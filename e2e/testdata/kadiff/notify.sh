#!/bin/sh
# A notify_up/notify_down/quorum_up/quorum_down script of the differential
# test (e2e/checker_diff_vm_test.go): appends its arguments and the ids it
# runs as to the log next to it.
echo "$(basename "$0") $* uid=$(id -u) gid=$(id -g)" >>"$(dirname "$0")/log"
