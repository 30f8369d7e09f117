#include "io/ctgov_places.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

struct country {
	const char *name; /* as ClinicalTrials.gov writes it */
	const char *code;
	const char *zone; /* the main zone */
	bool several;     /* the country spans several zones */
};

/* Every country named by the locations in data/ctgov/studies.jsonl, with the
 * older spellings CT.gov used for the same country. */
static const struct country countries[] = {
	{"Antigua and Barbuda", "AG", "America/Antigua", false},
	{"Argentina", "AR", "America/Argentina/Buenos_Aires", false},
	{"Australia", "AU", "Australia/Sydney", true},
	{"Austria", "AT", "Europe/Vienna", false},
	{"Belgium", "BE", "Europe/Brussels", false},
	{"Brazil", "BR", "America/Sao_Paulo", true},
	{"Bulgaria", "BG", "Europe/Sofia", false},
	{"Canada", "CA", "America/Toronto", true},
	{"Chile", "CL", "America/Santiago", true},
	{"China", "CN", "Asia/Shanghai", false},
	{"Colombia", "CO", "America/Bogota", false},
	{"Croatia", "HR", "Europe/Zagreb", false},
	{"Cuba", "CU", "America/Havana", false},
	{"Czech Republic", "CZ", "Europe/Prague", false},
	{"Czechia", "CZ", "Europe/Prague", false},
	{"Denmark", "DK", "Europe/Copenhagen", false},
	{"Ecuador", "EC", "America/Guayaquil", true},
	{"Egypt", "EG", "Africa/Cairo", false},
	{"Estonia", "EE", "Europe/Tallinn", false},
	{"Finland", "FI", "Europe/Helsinki", false},
	{"France", "FR", "Europe/Paris", false},
	{"Georgia", "GE", "Asia/Tbilisi", false},
	{"Germany", "DE", "Europe/Berlin", false},
	{"Greece", "GR", "Europe/Athens", false},
	{"Hong Kong", "HK", "Asia/Hong_Kong", false},
	{"Hungary", "HU", "Europe/Budapest", false},
	{"India", "IN", "Asia/Kolkata", false},
	{"Indonesia", "ID", "Asia/Jakarta", true},
	{"Iran, Islamic Republic of", "IR", "Asia/Tehran", false},
	{"Iraq", "IQ", "Asia/Baghdad", false},
	{"Ireland", "IE", "Europe/Dublin", false},
	{"Israel", "IL", "Asia/Jerusalem", false},
	{"Italy", "IT", "Europe/Rome", false},
	{"Jamaica", "JM", "America/Jamaica", false},
	{"Japan", "JP", "Asia/Tokyo", false},
	{"Jordan", "JO", "Asia/Amman", false},
	{"Kazakhstan", "KZ", "Asia/Almaty", true},
	{"Korea, Republic of", "KR", "Asia/Seoul", false},
	{"Kuwait", "KW", "Asia/Kuwait", false},
	{"Kyrgyzstan", "KG", "Asia/Bishkek", false},
	{"Latvia", "LV", "Europe/Riga", false},
	{"Lebanon", "LB", "Asia/Beirut", false},
	{"Lithuania", "LT", "Europe/Vilnius", false},
	{"Malaysia", "MY", "Asia/Kuala_Lumpur", false},
	{"Mexico", "MX", "America/Mexico_City", true},
	{"Netherlands", "NL", "Europe/Amsterdam", false},
	{"New Zealand", "NZ", "Pacific/Auckland", true},
	{"Norway", "NO", "Europe/Oslo", false},
	{"Pakistan", "PK", "Asia/Karachi", false},
	{"Palestinian Territories, Occupied", "PS", "Asia/Hebron", true},
	{"Panama", "PA", "America/Panama", false},
	{"Paraguay", "PY", "America/Asuncion", false},
	{"Peru", "PE", "America/Lima", false},
	{"Philippines", "PH", "Asia/Manila", false},
	{"Poland", "PL", "Europe/Warsaw", false},
	{"Portugal", "PT", "Europe/Lisbon", true},
	{"Puerto Rico", "PR", "America/Puerto_Rico", false},
	{"Romania", "RO", "Europe/Bucharest", false},
	{"Russia", "RU", "Europe/Moscow", true},
	{"Russian Federation", "RU", "Europe/Moscow", true},
	{"Saudi Arabia", "SA", "Asia/Riyadh", false},
	{"Serbia", "RS", "Europe/Belgrade", false},
	{"Singapore", "SG", "Asia/Singapore", false},
	{"Slovakia", "SK", "Europe/Bratislava", false},
	{"Slovenia", "SI", "Europe/Ljubljana", false},
	{"South Africa", "ZA", "Africa/Johannesburg", false},
	{"South Korea", "KR", "Asia/Seoul", false},
	{"Spain", "ES", "Europe/Madrid", true},
	{"Sweden", "SE", "Europe/Stockholm", false},
	{"Switzerland", "CH", "Europe/Zurich", false},
	{"Taiwan", "TW", "Asia/Taipei", false},
	{"Thailand", "TH", "Asia/Bangkok", false},
	{"Turkey", "TR", "Europe/Istanbul", false},
	{"Turkey (Türkiye)", "TR", "Europe/Istanbul", false},
	{"Türkiye", "TR", "Europe/Istanbul", false},
	{"Ukraine", "UA", "Europe/Kyiv", false},
	{"United Arab Emirates", "AE", "Asia/Dubai", false},
	{"United Kingdom", "GB", "Europe/London", false},
	{"United States", "US", "America/New_York", true},
	{"Uruguay", "UY", "America/Montevideo", false},
	{"Vietnam", "VN", "Asia/Ho_Chi_Minh", false},
};

struct region {
	const char *country;
	const char *name; /* as written in the location's state, compared ignoring ASCII case */
	const char *zone;
};

/* States and provinces whose zone differs from the country's main one, or
 * that name it explicitly; spellings as found in the records. */
static const struct region regions[] = {
	{"US", "Alabama", "America/Chicago"},
	{"US", "Alaska", "America/Anchorage"},
	{"US", "Arizona", "America/Phoenix"},
	{"US", "Arkansas", "America/Chicago"},
	{"US", "California", "America/Los_Angeles"},
	{"US", "Colorado", "America/Denver"},
	{"US", "Connecticut", "America/New_York"},
	{"US", "Delaware", "America/New_York"},
	{"US", "District of Columbia", "America/New_York"},
	{"US", "Florida", "America/New_York"},
	{"US", "Georgia", "America/New_York"},
	{"US", "Hawaii", "Pacific/Honolulu"},
	{"US", "Idaho", "America/Boise"},
	{"US", "Illinois", "America/Chicago"},
	{"US", "Indiana", "America/Indiana/Indianapolis"},
	{"US", "Iowa", "America/Chicago"},
	{"US", "Kansas", "America/Chicago"},
	{"US", "Kentucky", "America/New_York"},
	{"US", "Louisiana", "America/Chicago"},
	{"US", "Maine", "America/New_York"},
	{"US", "Maryland", "America/New_York"},
	{"US", "Massachusetts", "America/New_York"},
	{"US", "Michigan", "America/Detroit"},
	{"US", "Minnesota", "America/Chicago"},
	{"US", "Mississippi", "America/Chicago"},
	{"US", "Missouri", "America/Chicago"},
	{"US", "Montana", "America/Denver"},
	{"US", "Nebraska", "America/Chicago"},
	{"US", "Nevada", "America/Los_Angeles"},
	{"US", "New Hampshire", "America/New_York"},
	{"US", "New Jersey", "America/New_York"},
	{"US", "New Mexico", "America/Denver"},
	{"US", "New York", "America/New_York"},
	{"US", "North Carolina", "America/New_York"},
	{"US", "North Dakota", "America/Chicago"},
	{"US", "Ohio", "America/New_York"},
	{"US", "Oklahoma", "America/Chicago"},
	{"US", "Oregon", "America/Los_Angeles"},
	{"US", "Pennsylvania", "America/New_York"},
	{"US", "Puerto Rico", "America/Puerto_Rico"},
	{"US", "Rhode Island", "America/New_York"},
	{"US", "South Carolina", "America/New_York"},
	{"US", "South Dakota", "America/Chicago"},
	{"US", "Tennessee", "America/Chicago"},
	{"US", "Texas", "America/Chicago"},
	{"US", "Utah", "America/Denver"},
	{"US", "Vermont", "America/New_York"},
	{"US", "Virginia", "America/New_York"},
	{"US", "Washington", "America/Los_Angeles"},
	{"US", "West Virginia", "America/New_York"},
	{"US", "Wisconsin", "America/Chicago"},
	{"US", "Wyoming", "America/Denver"},
	{"CA", "Alberta", "America/Edmonton"},
	{"CA", "British Columbia", "America/Vancouver"},
	{"CA", "Manitoba", "America/Winnipeg"},
	{"CA", "New Brunswick", "America/Moncton"},
	{"CA", "Newfoundland and Labrador", "America/St_Johns"},
	{"CA", "Nova Scotia", "America/Halifax"},
	{"CA", "Ontario", "America/Toronto"},
	{"CA", "Prince Edward Island", "America/Halifax"},
	{"CA", "Quebec", "America/Toronto"},
	{"CA", "Montreal", "America/Toronto"},
	{"CA", "Saskatchewan", "America/Regina"},
	{"AU", "Australian Capital Territory", "Australia/Sydney"},
	{"AU", "New South Wales", "Australia/Sydney"},
	{"AU", "Northern Territory", "Australia/Darwin"},
	{"AU", "Queensland", "Australia/Brisbane"},
	{"AU", "South Australia", "Australia/Adelaide"},
	{"AU", "Tasmania", "Australia/Hobart"},
	{"AU", "Victoria", "Australia/Melbourne"},
	{"AU", "Western Australia", "Australia/Perth"},
	{"BR", "Bahia", "America/Bahia"},
	{"BR", "Ceará", "America/Fortaleza"},
	{"BR", "CE", "America/Fortaleza"},
	{"BR", "Distrito Federal", "America/Sao_Paulo"},
	{"BR", "Espírito Santo", "America/Sao_Paulo"},
	{"BR", "Goiás", "America/Sao_Paulo"},
	{"BR", "Maranhão", "America/Fortaleza"},
	{"BR", "Minas Gerais", "America/Sao_Paulo"},
	{"BR", "MG", "America/Sao_Paulo"},
	{"BR", "Pará", "America/Belem"},
	{"BR", "Para", "America/Belem"},
	{"BR", "Paraná", "America/Sao_Paulo"},
	{"BR", "Parana", "America/Sao_Paulo"},
	{"BR", "PR", "America/Sao_Paulo"},
	{"BR", "Pernambuco", "America/Recife"},
	{"BR", "Rio de Janeiro", "America/Sao_Paulo"},
	{"BR", "RJ", "America/Sao_Paulo"},
	{"BR", "Rio Grande do Norte", "America/Fortaleza"},
	{"BR", "Rio Grande do Sul", "America/Sao_Paulo"},
	{"BR", "RS", "America/Sao_Paulo"},
	{"BR", "Santa Catarina", "America/Sao_Paulo"},
	{"BR", "São Paulo", "America/Sao_Paulo"},
	{"BR", "São Paulo State", "America/Sao_Paulo"},
	{"BR", "Sao Paulo", "America/Sao_Paulo"},
	{"BR", "SP", "America/Sao_Paulo"},
};

const char *ctgov_country_code(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(countries) / sizeof(countries[0]); i++)
		if (!strcmp(countries[i].name, name))
			return countries[i].code;
	return NULL;
}

const char *ctgov_time_zone(const char *country, const char *state, bool *guessed)
{
	const struct country *c = NULL;

	*guessed = false;
	if (!country)
		return NULL;
	for (size_t i = 0; i < sizeof(countries) / sizeof(countries[0]) && !c; i++)
		if (!strcmp(countries[i].code, country))
			c = &countries[i];
	if (!c)
		return NULL;
	for (size_t i = 0; state && i < sizeof(regions) / sizeof(regions[0]); i++)
		if (!strcmp(regions[i].country, country) && !strcasecmp(regions[i].name, state))
			return regions[i].zone;
	*guessed = c->several;
	return c->zone;
}
