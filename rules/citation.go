package rules

// RuleSet2018 names the rules text the engine implements: the service market
// dispute resolution rules updated 2018-03-12. Every ruling records the rule
// set its order was opened under, so a later text can be added beside this one
// without changing how old cases are decided.
const RuleSet2018 = "2018-03-12"

// Citations of the 2018-03-12 text, in the contract's format: chapter,
// section, article, lower case and dotted.
const (
	C1S1A1 = "c1.s1.a1"
	C1S1A2 = "c1.s1.a2"
	C1S1A3 = "c1.s1.a3"
	C1S1A4 = "c1.s1.a4"

	C1S2ServiceProvider  = "c1.s2.service_provider"
	C1S2Merchant         = "c1.s2.merchant"
	C1S2Application      = "c1.s2.application"
	C1S2ServiceCost      = "c1.s2.service_cost"
	C1S2Evidence         = "c1.s2.evidence"
	C1S2ReferenceVoucher = "c1.s2.reference_vouchers"
	C1S2Delivery         = "c1.s2.delivery"

	C1S3A1 = "c1.s3.a1"
	C1S3A2 = "c1.s3.a2"

	C1S4A1 = "c1.s4.a1"
	C1S4A2 = "c1.s4.a2"
	C1S4A3 = "c1.s4.a3"
	C1S4A4 = "c1.s4.a4"
	C1S4A5 = "c1.s4.a5"

	C1S5I1 = "c1.s5.i1"
	C1S5I2 = "c1.s5.i2"

	C1S6A1 = "c1.s6.a1"
	C1S6A2 = "c1.s6.a2"

	C2A1  = "c2.a1"
	C2A2  = "c2.a2"
	C2A3  = "c2.a3"
	C2A4  = "c2.a4"
	C2A5  = "c2.a5"
	C2A6  = "c2.a6"
	C2A7  = "c2.a7"
	C2A8  = "c2.a8"
	C2A9  = "c2.a9"
	C2A10 = "c2.a10"

	C3S1A1 = "c3.s1.a1"
	C3S1A2 = "c3.s1.a2"
	C3S1A3 = "c3.s1.a3"
	C3S1A4 = "c3.s1.a4"
	C3S1A5 = "c3.s1.a5"

	C3S2A1 = "c3.s2.a1"
	C3S2A2 = "c3.s2.a2"
	C3S2A3 = "c3.s2.a3"
	C3S2A4 = "c3.s2.a4"
	C3S2A5 = "c3.s2.a5"

	C3S3A1 = "c3.s3.a1"
	C3S3A2 = "c3.s3.a2"
	C3S3A3 = "c3.s3.a3"
	C3S3A4 = "c3.s3.a4"

	C3S4A1 = "c3.s4.a1"
	C3S4A2 = "c3.s4.a2"
	C3S4A3 = "c3.s4.a3"
	C3S4A4 = "c3.s4.a4"
	C3S4A5 = "c3.s4.a5"

	C3S5A1 = "c3.s5.a1"
	C3S5A2 = "c3.s5.a2"
	C3S5A3 = "c3.s5.a3"
	C3S5A4 = "c3.s5.a4"
	C3S5A5 = "c3.s5.a5"
	C3S5A6 = "c3.s5.a6"
)

// Citations lists every article and definition of the 2018-03-12 text, in the
// order of the text.
func Citations() []string {
	return []string{
		C1S1A1, C1S1A2, C1S1A3, C1S1A4,
		C1S2ServiceProvider, C1S2Merchant, C1S2Application, C1S2ServiceCost,
		C1S2Evidence, C1S2ReferenceVoucher, C1S2Delivery,
		C1S3A1, C1S3A2,
		C1S4A1, C1S4A2, C1S4A3, C1S4A4, C1S4A5,
		C1S5I1, C1S5I2,
		C1S6A1, C1S6A2,
		C2A1, C2A2, C2A3, C2A4, C2A5, C2A6, C2A7, C2A8, C2A9, C2A10,
		C3S1A1, C3S1A2, C3S1A3, C3S1A4, C3S1A5,
		C3S2A1, C3S2A2, C3S2A3, C3S2A4, C3S2A5,
		C3S3A1, C3S3A2, C3S3A3, C3S3A4,
		C3S4A1, C3S4A2, C3S4A3, C3S4A4, C3S4A5,
		C3S5A1, C3S5A2, C3S5A3, C3S5A4, C3S5A5, C3S5A6,
	}
}

var knownCitation = func() map[string]bool {
	m := make(map[string]bool)
	for _, c := range Citations() {
		m[c] = true
	}
	return m
}()

// ValidCitation reports whether c names an article or definition of the text.
func ValidCitation(c string) bool { return knownCitation[c] }

// byCategory picks the article of a category's section, or other for the
// categories without one.
func byCategory(c Category, software, operational, training, image, video, other string) string {
	switch c {
	case SoftwareApp:
		return software
	case OperationalService:
		return operational
	case Training:
		return training
	case ImageDesign:
		return image
	case Video:
		return video
	}
	return other
}
