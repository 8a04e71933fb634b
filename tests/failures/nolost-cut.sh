#!/bin/sh
# nolost.sh with the map replica's node cut (its link down) instead of
# crashed: issue 14 fails nodes by link-down too.
AIC_FAIL_WAY=cut
. "$AIC_SRC_DIR/tests/failures/nolost.sh"
