//! Name pools and the naming conventions of the communities a south Indian hub serves.
//!
//! Every pool is ordered from most to least common and sampled with a Zipf-like weight
//! (`1 / rank^0.9`), so a few names are very common and most form a long tail, which is what
//! term-frequency based matching needs to be tested against.

use std::sync::LazyLock;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// How a household's members write their names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Convention {
    /// Given name with the father's initial ("K. Ramesh", "Ramesh K") or none; no surname.
    Tamil,
    /// Family name first: "Kommineni Venkata Ramana".
    Telugu,
    /// Given name, optional middle, surname: "Ramesh Kumar Sharma", "Sunita Devi".
    NorthIndian,
    /// "Mohammed Iqbal", "Md. Iqbal", "Shaik Abdul Rahim", "Fathima Beevi".
    Muslim,
    /// Given name then father's (or husband's) given name: "Mary Joseph", "Antony Raj".
    Christian,
    /// Kerala: patronymic "Thomas Varghese", caste surname "Lakshmi Nair", or house-name and
    /// father initials "P. V. Thomas".
    Kerala,
    /// A single given name only: "Murugan", "Lakshmi".
    Single,
}

impl Convention {
    /// All conventions, in a fixed order.
    pub const ALL: [Convention; 7] = [
        Convention::Tamil,
        Convention::Telugu,
        Convention::NorthIndian,
        Convention::Muslim,
        Convention::Christian,
        Convention::Kerala,
        Convention::Single,
    ];

    /// A short lowercase label.
    pub fn code(self) -> &'static str {
        match self {
            Convention::Tamil => "tamil",
            Convention::Telugu => "telugu",
            Convention::NorthIndian => "north_indian",
            Convention::Muslim => "muslim",
            Convention::Christian => "christian",
            Convention::Kerala => "kerala",
            Convention::Single => "single",
        }
    }
}

const TAMIL_MALE: &[&str] = &[
    "Murugan",
    "Ramesh",
    "Suresh",
    "Kumar",
    "Rajendran",
    "Selvam",
    "Senthil",
    "Saravanan",
    "Ganesan",
    "Mani",
    "Arumugam",
    "Palani",
    "Krishnan",
    "Subramanian",
    "Venkatesan",
    "Ravi",
    "Rajesh",
    "Karthik",
    "Vignesh",
    "Prakash",
    "Anand",
    "Balaji",
    "Manikandan",
    "Sivakumar",
    "Ramachandran",
    "Natarajan",
    "Shanmugam",
    "Perumal",
    "Muthu",
    "Raja",
    "Velu",
    "Kannan",
    "Gopal",
    "Sundaram",
    "Elumalai",
    "Ayyappan",
    "Kathiresan",
    "Sekar",
    "Chandrasekar",
    "Dhanasekaran",
    "Jayakumar",
    "Vijay",
    "Ajith",
    "Arun",
    "Dinesh",
    "Gokul",
    "Hari",
    "Ilango",
    "Jagan",
    "Kalaiselvan",
    "Lingam",
    "Madhavan",
    "Nagarajan",
    "Pandian",
    "Rajkumar",
    "Sakthivel",
    "Thangaraj",
    "Udhayakumar",
    "Vasanth",
    "Yuvaraj",
    "Anbalagan",
    "Arivazhagan",
    "Balasubramanian",
    "Chinnasamy",
    "Duraisamy",
    "Gunasekaran",
    "Kandasamy",
    "Karuppasamy",
    "Mariappan",
    "Muniyandi",
    "Nallathambi",
    "Pachaiyappan",
    "Ponnusamy",
    "Ramasamy",
    "Sivaraman",
    "Thirumalai",
    "Vadivel",
    "Veerappan",
    "Sathish",
    "Santhosh",
    "Mohan",
    "Babu",
    "Saminathan",
    "Kumaresan",
    "Ezhumalai",
    "Sampath",
    "Kaliyaperumal",
    "Ramalingam",
    "Dhandapani",
    "Marimuthu",
    "Rajagopal",
    "Govindan",
    "Sethuraman",
    "Annamalai",
    "Thiyagarajan",
    "Kamaraj",
    "Sivasankar",
    "Bharathi",
    "Selvakumar",
    "Prabhu",
    "Naveen",
    "Deepak",
    "Surya",
    "Harish",
    "Kishore",
    "Lokesh",
    "Manoj",
    "Nandha",
    "Pradeep",
    "Raghu",
    "Sridhar",
    "Tamilselvan",
    "Vel",
    "Aravind",
    "Ashok",
    "Boopathi",
    "Devaraj",
    "Elangovan",
    "Gnanasekaran",
    "Iyappan",
    "Jeeva",
    "Kalidas",
    "Logesh",
    "Mahendran",
    "Nithyanandam",
    "Parthiban",
    "Rathinam",
    "Sankar",
    "Thilak",
    "Vetrivel",
    "Ilavarasan",
    "Kumaravel",
    "Arjun",
    "Dhanush",
    "Kavin",
    "Mugilan",
    "Nithish",
    "Pranav",
    "Sanjay",
    "Tharun",
    "Yogesh",
];

const TAMIL_FEMALE: &[&str] = &[
    "Lakshmi",
    "Selvi",
    "Saraswathi",
    "Meena",
    "Kala",
    "Vijaya",
    "Parvathi",
    "Revathi",
    "Malathi",
    "Kavitha",
    "Priya",
    "Devi",
    "Gowri",
    "Chitra",
    "Jayanthi",
    "Sumathi",
    "Valli",
    "Amudha",
    "Anitha",
    "Bhuvaneswari",
    "Chandra",
    "Dhanalakshmi",
    "Geetha",
    "Indira",
    "Jothi",
    "Kalaiselvi",
    "Latha",
    "Mahalakshmi",
    "Nirmala",
    "Padma",
    "Rani",
    "Sangeetha",
    "Thenmozhi",
    "Uma",
    "Vasantha",
    "Yamuna",
    "Ambika",
    "Banumathi",
    "Chellammal",
    "Deepa",
    "Eswari",
    "Gayathri",
    "Hemalatha",
    "Indhumathi",
    "Jaya",
    "Kamala",
    "Karpagam",
    "Lalitha",
    "Manimegalai",
    "Muthulakshmi",
    "Nagammal",
    "Pushpa",
    "Radha",
    "Rajeswari",
    "Sarojini",
    "Shanthi",
    "Sivagami",
    "Thilagavathi",
    "Usha",
    "Vanitha",
    "Alamelu",
    "Angammal",
    "Chinnammal",
    "Kaliammal",
    "Kanniammal",
    "Mariammal",
    "Muniammal",
    "Pappathi",
    "Ponni",
    "Rukmani",
    "Sampoorna",
    "Sundari",
    "Veeramma",
    "Pavithra",
    "Divya",
    "Keerthana",
    "Nandhini",
    "Ramya",
    "Sowmya",
    "Swathi",
    "Aishwarya",
    "Abirami",
    "Bharathi",
    "Dharani",
    "Harini",
    "Janani",
    "Kaviya",
    "Madhumitha",
    "Nithya",
    "Pooja",
    "Sandhiya",
    "Sathya",
    "Sneha",
    "Yazhini",
    "Anandhi",
    "Vennila",
    "Poongodi",
    "Mallika",
    "Sasikala",
    "Suganthi",
    "Kasthuri",
    "Panchavarnam",
    "Kanagavalli",
    "Tamilarasi",
    "Malarvizhi",
    "Arulmozhi",
    "Ezhilarasi",
    "Ilavarasi",
    "Jeyanthi",
    "Kowsalya",
    "Mangayarkarasi",
    "Neela",
    "Parimala",
    "Rathna",
    "Santhi",
    "Thamarai",
    "Vijayalakshmi",
    "Prema",
    "Mythili",
    "Gomathi",
    "Logeswari",
    "Sumithra",
    "Akila",
];

const TELUGU_MALE: &[&str] = &[
    "Srinivasa Rao",
    "Venkata Ramana",
    "Venkateswarlu",
    "Nageswara Rao",
    "Subba Rao",
    "Ramakrishna",
    "Satyanarayana",
    "Suresh",
    "Ravi Kumar",
    "Prasad",
    "Raju",
    "Anil Kumar",
    "Chandra Sekhar",
    "Madhusudhan",
    "Sai Kumar",
    "Naresh",
    "Mahesh",
    "Ramesh Babu",
    "Kishore",
    "Koteswara Rao",
    "Appa Rao",
    "Sambasiva Rao",
    "Anjaneyulu",
    "Hanumantha Rao",
    "Brahmaiah",
    "Narasimha",
    "Ranga Rao",
    "Seshagiri",
    "Yadagiri",
    "Mallikarjuna",
    "Veeraiah",
    "Pullaiah",
    "Chinna Rao",
    "Gopala Krishna",
    "Lakshmana Rao",
    "Rama Rao",
    "Surya Narayana",
    "Bhaskar",
    "Pavan Kumar",
    "Kiran",
    "Praveen",
    "Harsha",
    "Vamsi",
    "Teja",
    "Chaitanya",
    "Sudheer",
    "Rajasekhar",
    "Murali Krishna",
    "Eswar",
    "Durga Prasad",
    "Nagaraju",
    "Venkatesh",
];

const TELUGU_FEMALE: &[&str] = &[
    "Lakshmi",
    "Padmavathi",
    "Venkata Lakshmi",
    "Sujatha",
    "Sridevi",
    "Annapurna",
    "Kanaka Durga",
    "Satyavathi",
    "Rama Devi",
    "Vijaya Lakshmi",
    "Swarupa",
    "Aruna",
    "Nagamani",
    "Saraswathi",
    "Anasuya",
    "Bhagya Lakshmi",
    "Sarada",
    "Suneetha",
    "Hymavathi",
    "Krishna Veni",
    "Rajyalakshmi",
    "Seetha",
    "Kumari",
    "Durga",
    "Sailaja",
    "Madhavi",
    "Radhika",
    "Pushpa Latha",
    "Jhansi",
    "Sirisha",
    "Sravani",
    "Bhavani",
    "Mounika",
    "Keerthi",
    "Haritha",
    "Lavanya",
    "Prasanna",
    "Manjula",
    "Varalakshmi",
    "Nirmala",
    "Ratnakumari",
    "Subbalakshmi",
    "Chandrakala",
    "Mangamma",
    "Venkamma",
    "Adilakshmi",
    "Sushma",
    "Divya",
    "Tejaswi",
    "Pavani",
];

const TELUGU_FAMILY: &[&str] = &[
    "Kommineni",
    "Yarlagadda",
    "Gummadi",
    "Nallapati",
    "Bandaru",
    "Chilukuri",
    "Kotha",
    "Pasupuleti",
    "Vemula",
    "Boddu",
    "Gaddam",
    "Kandula",
    "Mandava",
    "Paruchuri",
    "Tadikonda",
    "Uppalapati",
    "Vallabhaneni",
    "Yalamanchili",
    "Alapati",
    "Bollineni",
    "Chennupati",
    "Dasari",
    "Garikapati",
    "Jonnalagadda",
    "Katta",
    "Madala",
    "Nadendla",
    "Potluri",
    "Ravuri",
    "Siripurapu",
    "Talluri",
    "Veeramachaneni",
    "Akkineni",
    "Ganta",
    "Kolli",
    "Lingamaneni",
    "Mannava",
    "Peddi",
    "Sunkara",
    "Thota",
];

const NORTH_MALE: &[&str] = &[
    "Ramesh",
    "Suresh",
    "Rajesh",
    "Sunil",
    "Anil",
    "Manoj",
    "Sanjay",
    "Vijay",
    "Rakesh",
    "Mukesh",
    "Dinesh",
    "Mahesh",
    "Ashok",
    "Pankaj",
    "Amit",
    "Rahul",
    "Rohit",
    "Vikas",
    "Deepak",
    "Sandeep",
    "Ajay",
    "Ravi",
    "Raju",
    "Santosh",
    "Ram",
    "Shyam",
    "Mohan",
    "Sohan",
    "Om Prakash",
    "Ram Prasad",
    "Shiv",
    "Shankar",
    "Gopal",
    "Hari",
    "Krishna",
    "Lalit",
    "Naresh",
    "Pradeep",
    "Praveen",
    "Satish",
    "Umesh",
    "Yogesh",
    "Arvind",
    "Bhupendra",
    "Devendra",
    "Dharmendra",
    "Jitendra",
    "Mahendra",
    "Narendra",
    "Rajendra",
    "Surendra",
    "Virendra",
    "Abhishek",
    "Ankit",
    "Aman",
    "Gaurav",
    "Nitin",
    "Saurabh",
    "Vivek",
    "Ramkishan",
    "Jagdish",
    "Harish",
    "Kailash",
    "Prakash",
    "Subhash",
    "Bablu",
    "Pappu",
    "Munna",
    "Ramesh Chandra",
    "Brijesh",
];

const NORTH_FEMALE: &[&str] = &[
    "Sunita",
    "Anita",
    "Geeta",
    "Sita",
    "Rekha",
    "Kamla",
    "Savitri",
    "Pushpa",
    "Asha",
    "Usha",
    "Meena",
    "Seema",
    "Neha",
    "Pooja",
    "Priyanka",
    "Sarita",
    "Manju",
    "Kiran",
    "Suman",
    "Kavita",
    "Rita",
    "Radha",
    "Shanti",
    "Sushila",
    "Urmila",
    "Vimla",
    "Kusum",
    "Lalita",
    "Mamta",
    "Nirmala",
    "Poonam",
    "Rani",
    "Saroj",
    "Shobha",
    "Sapna",
    "Jyoti",
    "Anjali",
    "Aarti",
    "Preeti",
    "Rashmi",
    "Sangita",
    "Shweta",
    "Sonia",
    "Kanchan",
    "Renu",
    "Babita",
    "Guddi",
    "Munni",
    "Phoolwati",
    "Bimla",
    "Draupadi",
    "Kaushalya",
    "Parvati",
    "Rukmini",
    "Shakuntala",
    "Sudha",
    "Tara",
    "Komal",
    "Khushboo",
    "Kamlesh",
];

const NORTH_SURNAME: &[&str] = &[
    "Sharma",
    "Verma",
    "Gupta",
    "Singh",
    "Yadav",
    "Mishra",
    "Pandey",
    "Tiwari",
    "Shukla",
    "Srivastava",
    "Chauhan",
    "Rathore",
    "Jain",
    "Agarwal",
    "Patel",
    "Chaudhary",
    "Thakur",
    "Dubey",
    "Tripathi",
    "Saxena",
    "Rajput",
    "Meena",
    "Joshi",
    "Bhatt",
    "Rawat",
    "Negi",
    "Prasad",
    "Mehta",
    "Kushwaha",
    "Maurya",
    "Paswan",
    "Jha",
    "Sinha",
    "Das",
];

const NORTH_MIDDLE: &[&str] = &["Kumar", "Prasad", "Lal", "Chand", "Nath", "Singh"];

const MUSLIM_MALE: &[&str] = &[
    "Iqbal",
    "Ibrahim",
    "Ismail",
    "Abdul Rahim",
    "Yusuf",
    "Rahman",
    "Karim",
    "Salim",
    "Rafiq",
    "Rashid",
    "Hussain",
    "Hassan",
    "Ali",
    "Basheer",
    "Jaffar",
    "Kasim",
    "Anwar",
    "Akbar",
    "Aslam",
    "Azeez",
    "Fayaz",
    "Farook",
    "Habeeb",
    "Hameed",
    "Imran",
    "Irfan",
    "Jabbar",
    "Jameel",
    "Kabeer",
    "Khaleel",
    "Majeed",
    "Mansoor",
    "Mustafa",
    "Nazeer",
    "Nizam",
    "Riyaz",
    "Sadiq",
    "Shafi",
    "Shahul Hameed",
    "Sikkandar",
    "Sultan",
    "Thameem",
    "Wahab",
    "Zakir",
    "Abdul Kader",
    "Abdul Latheef",
    "Abdul Majeed",
    "Abdul Salam",
    "Abubakar",
    "Amanullah",
    "Asif",
    "Faisal",
    "Feroz",
    "Ghouse",
    "Hidayathullah",
    "Jalal",
    "Mohideen",
    "Noorul Ameen",
    "Rizwan",
    "Sameer",
    "Shahjahan",
    "Sirajudeen",
    "Yaseen",
    "Zubair",
    "Arif",
    "Khader",
    "Meeran",
    "Rahim",
];

const MUSLIM_FEMALE: &[&str] = &[
    "Fathima",
    "Ayesha",
    "Khadija",
    "Zainab",
    "Rabia",
    "Ameena",
    "Salma",
    "Shabana",
    "Nasreen",
    "Parveen",
    "Rahmath",
    "Sabeena",
    "Shameem",
    "Hajira",
    "Jameela",
    "Mumtaz",
    "Najma",
    "Noorjahan",
    "Rasheeda",
    "Razia",
    "Rukhsana",
    "Safiya",
    "Sajida",
    "Shahida",
    "Sultana",
    "Yasmin",
    "Zubeda",
    "Haseena",
    "Mehrunnisa",
    "Asma",
    "Farzana",
    "Shahnaz",
    "Tahira",
    "Zareena",
    "Afsana",
    "Nazia",
    "Nilofer",
    "Reshma",
    "Sakina",
    "Shireen",
    "Taslima",
    "Mariyam",
    "Nafeesa",
    "Kairunnisa",
    "Bilkis",
    "Hameeda",
    "Jasmin",
    "Thahira",
    "Asiya",
    "Raziya",
];

const MUSLIM_FEMALE_SUFFIX: &[&str] = &["Beevi", "Begum", "Bee", "Banu", "Khatoon", "Bi"];
const MUSLIM_FAMILY: &[&str] = &["Shaik", "Syed", "Sheikh", "Pathan", "Mirza"];
const MUSLIM_MALE_PREFIX: &[&str] = &["Mohammed", "Md.", "Mohamed", "Mohd."];

const CHRISTIAN_MALE: &[&str] = &[
    "Joseph",
    "John",
    "Antony",
    "Arokiasamy",
    "Xavier",
    "Francis",
    "Paul",
    "Peter",
    "Thomas",
    "James",
    "David",
    "Daniel",
    "Samuel",
    "Stephen",
    "Michael",
    "George",
    "Charles",
    "Robert",
    "Anthony",
    "Augustine",
    "Sebastian",
    "Savarimuthu",
    "Arulraj",
    "Amalraj",
    "Selvaraj",
    "Gnanaprakasam",
    "Jesuraj",
    "Lourdusamy",
    "Maria Doss",
    "Yesudas",
    "Christopher",
    "Benjamin",
    "Emmanuel",
    "Isaac",
    "Jacob",
    "Moses",
    "Solomon",
    "Vincent",
    "Wilson",
    "Albert",
    "Edwin",
    "Jeyakumar",
    "Prabhakar",
    "Felix",
    "Raphael",
    "Justin",
    "Kingsley",
    "Ebenezer",
    "Jebaraj",
    "Devasagayam",
    "Gabriel",
    "Lawrence",
    "Raj",
];

const CHRISTIAN_FEMALE: &[&str] = &[
    "Mary",
    "Rosy",
    "Jessi",
    "Sophia",
    "Anthoniammal",
    "Arockiamary",
    "Mary Stella",
    "Jenifer",
    "Grace",
    "Esther",
    "Ruth",
    "Rebecca",
    "Sarah",
    "Margaret",
    "Agnes",
    "Catherine",
    "Theresa",
    "Philomena",
    "Lourdumary",
    "Selvamary",
    "Jeyarani",
    "Pushpa Mary",
    "Sahaya Mary",
    "Jasmine",
    "Gladys",
    "Beulah",
    "Hepzibah",
    "Juliet",
    "Lilly",
    "Mercy",
    "Nancy",
    "Priscilla",
    "Queency",
    "Rachel",
    "Shirley",
    "Stella",
    "Vimala",
    "Angel",
    "Christina",
    "Diana",
    "Evangeline",
    "Florence",
    "Helen",
    "Irene",
    "Josephine",
    "Leema",
    "Monica",
    "Nirmala Mary",
    "Rosaline",
    "Sheela",
];

const KERALA_MALE: &[&str] = &[
    "Thomas",
    "Varghese",
    "Mathew",
    "Joseph",
    "George",
    "Kurian",
    "Chacko",
    "Abraham",
    "Philip",
    "Jacob",
    "Ouseph",
    "Itty",
    "Mathai",
    "Scaria",
    "Baby",
    "Joy",
    "Biju",
    "Saji",
    "Shaji",
    "Anil",
    "Sunil",
    "Suresh",
    "Rajeev",
    "Unnikrishnan",
    "Gopalakrishnan",
    "Radhakrishnan",
    "Sasidharan",
    "Prabhakaran",
    "Balan",
    "Vijayan",
    "Mohanan",
    "Narayanan",
    "Raghavan",
    "Sreedharan",
    "Sudhakaran",
    "Haridas",
    "Manoj",
    "Pradeep",
    "Rajan",
    "Sreejith",
    "Vishnu",
    "Arjun",
    "Akhil",
    "Nikhil",
    "Jithin",
    "Anoop",
    "Sajeev",
    "Binu",
    "Shibu",
    "Ajith",
];

const KERALA_FEMALE: &[&str] = &[
    "Mary",
    "Annamma",
    "Aleyamma",
    "Mariamma",
    "Thresiamma",
    "Elizabeth",
    "Susan",
    "Sosamma",
    "Kunjamma",
    "Rosamma",
    "Lissy",
    "Jancy",
    "Bindu",
    "Sindhu",
    "Lekha",
    "Sheeja",
    "Sreeja",
    "Remya",
    "Divya",
    "Anju",
    "Aswathy",
    "Athira",
    "Reshmi",
    "Sreelakshmi",
    "Lakshmi",
    "Sarada",
    "Kamalakshi",
    "Devaki",
    "Janaki",
    "Sumathi",
    "Sobha",
    "Geetha",
    "Usha",
    "Latha",
    "Ambili",
    "Bhavana",
    "Dhanya",
    "Jisha",
    "Manju",
    "Neethu",
    "Priya",
    "Rajani",
    "Sajitha",
    "Shylaja",
    "Smitha",
    "Sunitha",
    "Valsala",
    "Omana",
    "Leela",
    "Kousalya",
];

const KERALA_CASTE: &[&str] = &[
    "Nair",
    "Menon",
    "Pillai",
    "Nambiar",
    "Kurup",
    "Panicker",
    "Warrier",
    "Namboothiri",
];

const KERALA_HOUSE: &[&str] = &[
    "Puthenpurayil",
    "Kunnathu",
    "Kizhakkethil",
    "Thekkethil",
    "Vadakkedathu",
    "Padinjarethil",
    "Kallarakkal",
    "Manjooran",
    "Valiyaveettil",
    "Parambil",
    "Chirayil",
    "Mannil",
    "Plavilayil",
    "Edathil",
    "Kottarathil",
];

/// A pool of names with cumulative Zipf-like weights for skewed sampling.
#[derive(Debug)]
pub struct Pool {
    names: &'static [&'static str],
    cumulative: Vec<f64>,
}

impl Pool {
    fn new(names: &'static [&'static str]) -> Pool {
        let mut total = 0.0;
        let cumulative = (0..names.len())
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(0.9);
                total
            })
            .collect();
        Pool { names, cumulative }
    }

    /// Draws one name, the most common ones far more often than the tail.
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> &'static str {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let u = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= u);
        self.names[i.min(self.names.len() - 1)]
    }

    /// Draws uniformly, ignoring the frequency skew.
    pub fn uniform<R: Rng + ?Sized>(&self, rng: &mut R) -> &'static str {
        self.names[rng.random_range(0..self.names.len())]
    }

    /// The names, most common first.
    pub fn names(&self) -> &'static [&'static str] {
        self.names
    }
}

/// All the name pools, built once.
#[derive(Debug)]
pub struct NamePools {
    male: [Pool; 6],
    female: [Pool; 6],
    telugu_family: Pool,
    north_surname: Pool,
    muslim_family: Pool,
    kerala_caste: Pool,
    kerala_house: Pool,
}

static POOLS: LazyLock<NamePools> = LazyLock::new(|| NamePools {
    male: [
        Pool::new(TAMIL_MALE),
        Pool::new(TELUGU_MALE),
        Pool::new(NORTH_MALE),
        Pool::new(MUSLIM_MALE),
        Pool::new(CHRISTIAN_MALE),
        Pool::new(KERALA_MALE),
    ],
    female: [
        Pool::new(TAMIL_FEMALE),
        Pool::new(TELUGU_FEMALE),
        Pool::new(NORTH_FEMALE),
        Pool::new(MUSLIM_FEMALE),
        Pool::new(CHRISTIAN_FEMALE),
        Pool::new(KERALA_FEMALE),
    ],
    telugu_family: Pool::new(TELUGU_FAMILY),
    north_surname: Pool::new(NORTH_SURNAME),
    muslim_family: Pool::new(MUSLIM_FAMILY),
    kerala_caste: Pool::new(KERALA_CASTE),
    kerala_house: Pool::new(KERALA_HOUSE),
});

/// The shared name pools.
pub fn pools() -> &'static NamePools {
    &POOLS
}

fn pool_index(conv: Convention) -> usize {
    match conv {
        Convention::Tamil | Convention::Single => 0,
        Convention::Telugu => 1,
        Convention::NorthIndian => 2,
        Convention::Muslim => 3,
        Convention::Christian => 4,
        Convention::Kerala => 5,
    }
}

impl NamePools {
    /// The given-name pool for a convention and sex.
    pub fn given_pool(&self, conv: Convention, male: bool) -> &Pool {
        let i = pool_index(conv);
        if male { &self.male[i] } else { &self.female[i] }
    }

    /// Draws a given name for a convention and sex.
    pub fn given<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        conv: Convention,
        male: bool,
    ) -> &'static str {
        self.given_pool(conv, male).sample(rng)
    }

    /// Every distinct given name of one sex across all pools, sorted.
    pub fn distinct_given(&self, male: bool) -> Vec<&'static str> {
        let pools = if male { &self.male } else { &self.female };
        let mut all: Vec<&'static str> =
            pools.iter().flat_map(|p| p.names.iter().copied()).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// A random male given name starting with `letter` (ASCII, case-insensitive), if any.
    pub fn male_starting_with<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        letter: char,
    ) -> Option<&'static str> {
        let letter = letter.to_ascii_uppercase();
        let pool = &self.male[rng.random_range(0..self.male.len())];
        let candidates: Vec<&'static str> = pool
            .names
            .iter()
            .copied()
            .filter(|n| n.starts_with(letter))
            .collect();
        if candidates.is_empty() {
            TAMIL_MALE.iter().copied().find(|n| n.starts_with(letter))
        } else {
            Some(candidates[rng.random_range(0..candidates.len())])
        }
    }
}

/// The household-wide choices that make members' names consistent with one another.
#[derive(Debug, Clone, Copy)]
pub struct NameStyle {
    /// The community convention.
    pub convention: Convention,
    /// A sub-style: for Tamil 0 "K. Ramesh", 1 "Ramesh K", 2 no initial, 3 "K.Ramesh";
    /// for Kerala 0 patronymic, 1 caste surname, 2 house and father initials;
    /// for Muslim whether men carry a "Mohammed"-like prefix (0 never, 1 often).
    pub variant: u8,
    /// The shared family word: Telugu family name, North Indian surname, Muslim family prefix
    /// (may be empty), Kerala caste surname or house name.
    pub family: &'static str,
}

impl NameStyle {
    /// Chooses a household's style for a convention.
    pub fn choose<R: Rng + ?Sized>(rng: &mut R, convention: Convention) -> NameStyle {
        let p = pools();
        let (variant, family) = match convention {
            Convention::Tamil => {
                let r = rng.random::<f64>();
                let v = if r < 0.55 {
                    0
                } else if r < 0.80 {
                    1
                } else if r < 0.92 {
                    2
                } else {
                    3
                };
                (v, "")
            }
            Convention::Telugu => (0, p.telugu_family.sample(rng)),
            Convention::NorthIndian => (0, p.north_surname.sample(rng)),
            Convention::Muslim => {
                let fam = if rng.random_bool(0.35) {
                    p.muslim_family.sample(rng)
                } else {
                    ""
                };
                (u8::from(rng.random_bool(0.6)), fam)
            }
            Convention::Christian | Convention::Single => (0, ""),
            Convention::Kerala => {
                let r = rng.random::<f64>();
                if r < 0.5 {
                    (0, "")
                } else if r < 0.75 {
                    (1, p.kerala_caste.sample(rng))
                } else {
                    (2, p.kerala_house.sample(rng))
                }
            }
        };
        NameStyle {
            convention,
            variant,
            family,
        }
    }

    /// Writes a full name as officials record it.
    ///
    /// `father` is the person's father's given name; `husband` the husband's given name for a
    /// married woman.
    pub fn format<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        given: &str,
        male: bool,
        father: &str,
        husband: Option<&str>,
    ) -> String {
        let mut s = String::with_capacity(given.len() + 16);
        match self.convention {
            Convention::Tamil => {
                let initial = father.chars().next().unwrap_or('A');
                match self.variant {
                    0 => {
                        s.push(initial);
                        s.push_str(". ");
                        s.push_str(given);
                    }
                    1 => {
                        s.push_str(given);
                        s.push(' ');
                        s.push(initial);
                    }
                    3 => {
                        s.push(initial);
                        s.push('.');
                        s.push_str(given);
                    }
                    _ => s.push_str(given),
                }
            }
            Convention::Telugu => {
                s.push_str(self.family);
                s.push(' ');
                s.push_str(given);
            }
            Convention::NorthIndian => {
                s.push_str(given);
                if male {
                    if !given.contains(' ') && rng.random_bool(0.4) {
                        s.push(' ');
                        s.push_str(NORTH_MIDDLE[rng.random_range(0..NORTH_MIDDLE.len())]);
                    }
                    s.push(' ');
                    s.push_str(self.family);
                } else if rng.random_bool(0.5) {
                    s.push_str(if husband.is_some() {
                        " Devi"
                    } else {
                        " Kumari"
                    });
                } else {
                    s.push(' ');
                    s.push_str(self.family);
                }
            }
            Convention::Muslim => {
                if !self.family.is_empty() && (male || rng.random_bool(0.3)) {
                    s.push_str(self.family);
                    s.push(' ');
                }
                if male && self.variant == 1 && rng.random_bool(0.7) {
                    let r = rng.random::<f64>();
                    let prefix = if r < 0.55 {
                        MUSLIM_MALE_PREFIX[0]
                    } else if r < 0.8 {
                        MUSLIM_MALE_PREFIX[1]
                    } else if r < 0.92 {
                        MUSLIM_MALE_PREFIX[2]
                    } else {
                        MUSLIM_MALE_PREFIX[3]
                    };
                    s.push_str(prefix);
                    s.push(' ');
                }
                s.push_str(given);
                if !male && s.len() == given.len() && rng.random_bool(0.55) {
                    s.push(' ');
                    s.push_str(
                        MUSLIM_FEMALE_SUFFIX[rng.random_range(0..MUSLIM_FEMALE_SUFFIX.len())],
                    );
                }
            }
            Convention::Christian => {
                s.push_str(given);
                s.push(' ');
                s.push_str(husband.unwrap_or(father));
            }
            Convention::Kerala => match self.variant {
                1 => {
                    s.push_str(given);
                    s.push(' ');
                    s.push_str(self.family);
                }
                2 => {
                    s.push(self.family.chars().next().unwrap_or('K'));
                    s.push_str(". ");
                    s.push(husband.unwrap_or(father).chars().next().unwrap_or('V'));
                    s.push_str(". ");
                    s.push_str(given);
                }
                _ => {
                    s.push_str(given);
                    s.push(' ');
                    s.push_str(husband.unwrap_or(father));
                }
            },
            Convention::Single => s.push_str(given),
        }
        s
    }
}

/// Convention weights for a district, by its position in the state (Puducherry-like: the
/// first district Tamil, the second Tamil with more Muslims, the third Malayalam-speaking,
/// the fourth Telugu-speaking).
pub fn convention_weights(district_position: u32) -> [f64; 7] {
    // Order follows Convention::ALL: Tamil, Telugu, North, Muslim, Christian, Kerala, Single.
    match district_position % 4 {
        0 => [0.58, 0.04, 0.05, 0.08, 0.12, 0.03, 0.10],
        1 => [0.52, 0.03, 0.04, 0.20, 0.10, 0.02, 0.09],
        2 => [0.10, 0.02, 0.05, 0.18, 0.08, 0.55, 0.02],
        _ => [0.08, 0.70, 0.05, 0.07, 0.06, 0.02, 0.02],
    }
}

/// Draws a convention from weights in `Convention::ALL` order.
pub fn pick_convention<R: Rng + ?Sized>(rng: &mut R, weights: &[f64; 7]) -> Convention {
    let total: f64 = weights.iter().sum();
    let mut u = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return Convention::ALL[i];
        }
        u -= w;
    }
    Convention::Tamil
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn pools_are_large_enough() {
        assert!(
            pools().distinct_given(true).len() >= 300,
            "{}",
            pools().distinct_given(true).len()
        );
        assert!(
            pools().distinct_given(false).len() >= 300,
            "{}",
            pools().distinct_given(false).len()
        );
    }

    #[test]
    fn sampling_is_skewed() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let pool = pools().given_pool(Convention::Tamil, true);
        let mut first = 0;
        let mut last = 0;
        for _ in 0..100_000 {
            let n = pool.sample(&mut rng);
            if n == pool.names()[0] {
                first += 1;
            }
            if n == pool.names()[pool.names().len() - 1] {
                last += 1;
            }
        }
        assert!(first > 20 * last.max(1), "first {first} last {last}");
    }

    #[test]
    fn tamil_initial_comes_from_father() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let style = NameStyle {
            convention: Convention::Tamil,
            variant: 0,
            family: "",
        };
        assert_eq!(
            style.format(&mut rng, "Ramesh", true, "Krishnan", None),
            "K. Ramesh"
        );
        let style = NameStyle {
            convention: Convention::Tamil,
            variant: 1,
            family: "",
        };
        assert_eq!(
            style.format(&mut rng, "Ramesh", true, "Krishnan", None),
            "Ramesh K"
        );
        let style = NameStyle {
            convention: Convention::Christian,
            variant: 0,
            family: "",
        };
        assert_eq!(
            style.format(&mut rng, "Mary", false, "Antony", Some("Joseph")),
            "Mary Joseph"
        );
        let style = NameStyle {
            convention: Convention::Telugu,
            variant: 0,
            family: "Kommineni",
        };
        assert_eq!(
            style.format(&mut rng, "Venkata Ramana", true, "Rama Rao", None),
            "Kommineni Venkata Ramana"
        );
    }
}
