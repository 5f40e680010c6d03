package awswire

// The twin's fixed identity: every ARN it makes uses this account and region.
const (
	// Account is the twin's AWS account id: twelve zeros, which no real account has, so cairn can tell a
	// run against the twin from one against AWS.
	Account = "000000000000"
	// Region is the only region the twin serves; a request signed for another region is answered as if
	// it were for this one.
	Region = "us-east-1"
)
