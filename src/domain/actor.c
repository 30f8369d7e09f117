#include "domain/actor.h"

static const struct actor system_actor = {.id = 0, .name = "system", .system = true};

const struct actor *actor_system(void)
{
	return &system_actor;
}
