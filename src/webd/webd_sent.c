/*
 * webd_sent: sent messages and their delivery story (see webd_int.h). (being written)
 */
#include "webd/webd_int.h"

void webd_sent(struct webd_req *r)
{
    webd_send_error(r, 501, "Not Implemented", "The sent story is not written yet.");
}
