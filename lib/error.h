/*
 * aic's error codes, for code inside aic. They are public API, so they are
 * declared once, in aic.h (AIC_E*, AIC_ERROR_MIN, aic_strerror and
 * aic_error_name); code that needs only them includes this header to say
 * so. lib/error.c defines the two functions.
 */
#ifndef AIC_ERROR_H
#define AIC_ERROR_H

#include "aic.h"

#endif
