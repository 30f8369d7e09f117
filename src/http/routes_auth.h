/* Handlers for sessions, users, grants and API tokens (routes_auth.c). */
#ifndef CTMS_ROUTES_AUTH_H
#define CTMS_ROUTES_AUTH_H

#include "http/request.h"

void h_login(struct request *r);
void h_logout(struct request *r);
void h_me(struct request *r);
void h_users(struct request *r);
void h_user_create(struct request *r);
void h_user_get(struct request *r);
void h_user_patch(struct request *r);
void h_grant_create(struct request *r);
void h_grant_delete(struct request *r);
void h_tokens(struct request *r);
void h_token_create(struct request *r);
void h_token_delete(struct request *r);
void h_sign(struct request *r);
void h_signatures(struct request *r);

#endif
