package activities

// PaidCall exposes the paid-call rule to the tests.
var PaidCall = paidCall
