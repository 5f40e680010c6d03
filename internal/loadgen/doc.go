// Package loadgen is the application a downtime rehearsal needs: a small writer that connects only
// through one endpoint — an RDS instance's name-following endpoint, the one DescribeDBInstances
// returns for the original name, as an application's DNS name would — and inserts and updates the
// demo shop's orders continuously while a runbook rebuilds the instance underneath it.
//
// It measures the downtime itself, as the application sees it, not as cairn reports it: an outage
// runs from the first write that fails (refused connection, ended session, refused login) to the
// first write committed after it. It records every order it saw committed and the last status it
// saw committed for each, and afterwards Check proves, on whatever instance holds the endpoint now,
// that every one of them is there with at least that status and that the orders' sequence is not
// behind the highest id handed out — so a lost write is found, never assumed away.
//
// It changes only shop.orders rows it inserted itself (and reads shop.customers and the orders'
// sequence); it never touches another table, role or setting.
package loadgen
