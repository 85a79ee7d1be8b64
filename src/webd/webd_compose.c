/*
 * webd_compose: writing a message (see webd_int.h). (being written)
 */
#include "webd/webd_int.h"

void webd_compose(struct webd_req *r)
{
    webd_send_error(r, 501, "Not Implemented", "Writing mail is not written yet.");
}
