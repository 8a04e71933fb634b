#!/bin/sh
# replica-moves.sh with only the node's aic-launch SIGKILLed (slurmd and
# the link live on): issue 14 fails nodes by SIGKILL of their agent too.
AIC_FAIL_WAY=agent-kill
. "$AIC_SRC_DIR/tests/failures/replica-moves.sh"
