#include "domain/organisation.h"

#include "domain/codes.h"

static const char *const kinds[] = {
	"sponsor", "cro", "vendor", "institution", "regulator", "ethics_committee", "other", NULL,
};

static const struct field_def fields[] = {
	FIELD_TEXT("name", F_REQUIRED | F_UNIQUE | F_FILTER, 200),
	FIELD_ENUM("kind", F_REQUIRED | F_FILTER, kinds),
	FIELD_COUNTRY("country", F_FILTER),
};

const struct entity_def organisation_def = {
	.name = "organisation",
	.table = "organisations",
	.fields = fields,
	.nfields = NELEMS(fields),
};
