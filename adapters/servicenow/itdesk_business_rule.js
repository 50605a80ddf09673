/*
 * The itdesk webhook: two business rules that tell the desk what changed, signed with the
 * shared secret (ServiceNow has no signed outbound webhooks of its own).
 *
 * Install (System Definition > Business Rules, as an admin):
 * 1. System properties (sys_properties):
 *      itdesk.webhook.url     https://<desk>/webhooks/servicenow      (type string)
 *      itdesk.webhook.secret  the value of ITDESK_SERVICENOW_WEBHOOK_SECRET (type password2)
 * 2. Rule "itdesk: incident changed": table incident, When = after, Insert and Update ticked,
 *    Advanced ticked; Script: this whole file, then the first call line at its end.
 *    An "after" rule, not "async": only an after rule still sees `previous` and changes();
 *    the call itself is asynchronous (executeAsync), so nobody's save waits for the desk.
 * 3. Rule "itdesk: journal entry": table sys_journal_field, When = after, Insert ticked,
 *    Advanced ticked, Condition: current.name == 'incident' && (current.element ==
 *    'comments' || current.element == 'work_notes'); Script: this whole file, then the
 *    second call line at its end.
 * The desk answers 401 to a call it cannot verify; check the outbound HTTP log
 * (System Logs > Outbound HTTP Requests) if changes do not arrive.
 */

var ITDESK_FIELDS = ['sys_id', 'number', 'caller_id', 'caller_id.user_name', 'caller_id.email',
    'category', 'assignment_group.name', 'assigned_to.user_name', 'urgency', 'impact', 'state',
    'short_description', 'description', 'correlation_id', 'correlation_display',
    'sys_created_on', 'sys_updated_on', 'sys_created_by', 'sys_updated_by', 'sys_mod_count'];

function itdeskValue(record, path) {
    var parts = path.split('.');
    var element = record;
    for (var i = 0; i < parts.length; i++) {
        if (i > 0) {
            element = element.getRefRecord();
            if (!element.isValidRecord()) {
                return '';
            }
        }
        element = element.getElement(parts[i]);
        if (element == null) {
            return '';
        }
    }
    var value = element.toString();
    return value == null ? '' : value;
}

function itdeskPost(payload) {
    var body = JSON.stringify(payload);
    var timestamp = String(Math.floor(new GlideDateTime().getNumericValue() / 1000));
    var secret = gs.getProperty('itdesk.webhook.secret');
    var mac = new GlideCertificateEncryption().generateMac(
        gs.base64Encode(secret), 'HmacSHA256', timestamp + '.' + body);
    var request = new sn_ws.RESTMessageV2();
    request.setEndpoint(gs.getProperty('itdesk.webhook.url'));
    request.setHttpMethod('post');
    request.setRequestHeader('Content-Type', 'application/json');
    request.setRequestHeader('X-Itdesk-Timestamp', timestamp);
    request.setRequestHeader('X-Itdesk-Signature', 'sha256=' + mac);
    request.setRequestBody(body);
    request.executeAsync();
}

function itdeskIncident(current, previous) {
    var record = {};
    for (var i = 0; i < ITDESK_FIELDS.length; i++) {
        record[ITDESK_FIELDS[i]] = itdeskValue(current, ITDESK_FIELDS[i]);
    }
    var changed = [];
    if (current.operation() == 'update') {
        if (current.state.changes()) {
            changed.push('state');
        }
        if (current.assigned_to.changes()) {
            changed.push('assigned_to');
        }
        if (changed.length == 0) {
            return;
        }
    }
    itdeskPost({table: 'incident', operation: current.operation(), record: record,
        changed: changed});
}

function itdeskJournal(current) {
    var incident = new GlideRecord('incident');
    if (!incident.get(current.getValue('element_id'))) {
        return;
    }
    itdeskPost({table: 'sys_journal_field', number: incident.getValue('number'), entry: {
        sys_id: current.getValue('sys_id'), element: current.getValue('element'),
        element_id: current.getValue('element_id'), value: current.getValue('value'),
        sys_created_on: current.getValue('sys_created_on'),
        sys_created_by: current.getValue('sys_created_by')}});
}

// The call line each rule ends with (uncommented):
// itdeskIncident(current, previous);   (rule "itdesk: incident changed")
// itdeskJournal(current);              (rule "itdesk: journal entry")
