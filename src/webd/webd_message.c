/*
 * webd_message: one message's page, its source, its HTML body and its
 * attachments (see webd_int.h). (being written)
 */
#include "webd/webd_int.h"

void webd_msg(struct webd_req *r)
{
    webd_send_error(r, 501, "Not Implemented", "Messages are not shown yet.");
}
