"""Started by Python in every process whose PYTHONPATH names this directory (the bench
puts it in the local cloud's Lambda workers): installs the AWS call log."""

import aws_call_log

aws_call_log.install()
