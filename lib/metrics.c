/* Metric summaries (see metrics.h). */
#include "config.h"

#include "metrics.h"

bool aic_metrics_add(json_t *summary, const json_t *point, size_t max_names, size_t *n_names)
{
	const char *stage = json_string_value(json_object_get(point, "stage"));
	const char *name = json_string_value(json_object_get(point, "name"));
	json_t *v = json_object_get(point, "value"), *by, *s, *lo, *hi;
	json_t *step = json_object_get(point, "step");

	if (!stage || !name || !v)
		return false;
	by = json_object_get(summary, stage);
	s = by ? json_object_get(by, name) : NULL;
	if (!s) {
		if (*n_names >= max_names)
			return false;
		if (!by) {
			by = json_object();
			json_object_set_new(summary, stage, by);
		}
		s = json_pack("{s:I}", "n", (json_int_t)0);
		json_object_set_new(by, name, s);
		(*n_names)++;
	}
	json_object_set_new(s, "n", json_integer(json_integer_value(json_object_get(s, "n")) + 1));
	json_object_set(s, "last", v);
	json_object_set_new(s, "last_step", step ? json_incref(step) : json_null());
	if (json_is_number(v)) {
		double x = json_number_value(v);
		lo = json_object_get(s, "min");
		hi = json_object_get(s, "max");
		if (!lo || x < json_number_value(lo))
			json_object_set_new(s, "min", json_real(x));
		if (!hi || x > json_number_value(hi))
			json_object_set_new(s, "max", json_real(x));
	}
	return true;
}
