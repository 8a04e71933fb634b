# Sourced by tests whose workers use python/aic: where the library and the
# package are. An AIC_LIBRARY already set wins (the sanitizer stage of
# scripts/check gives Python the plain build's library: an ASan .so cannot
# load into python3).
AIC_LIBRARY=${AIC_LIBRARY:-"$AIC_BUILD_DIR/lib/.libs/libaic.so"}
PYTHONPATH="$AIC_SRC_DIR/python"
export AIC_LIBRARY PYTHONPATH
