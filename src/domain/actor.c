#include "domain/actor.h"

static const struct actor system_actor = {0, "system"};

const struct actor *actor_system(void)
{
	return &system_actor;
}
